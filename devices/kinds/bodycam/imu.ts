/**
 * Summary of one IMU window (accelerometer in g, gyroscope in °/s), computed once per window:
 * the rules (man down) and the forwarder (uplinked fields) both read it, so it is memoised on
 * the window object that travels through the pipeline.
 */
export interface ImuWindow {
  rate_hz: number;
  accel_g: number[][];
  gyro_dps?: number[][];
}

export interface ImuStats {
  samples: number;
  seconds: number;
  peakG: number;
  meanG: number;
  sdG: number;
  /** Mean angular speed, °/s; undefined without gyroscope samples. */
  gyroMeanDps?: number;
}

const memo = new WeakMap<ImuWindow, ImuStats>();
const norm = (v: number[]) => Math.hypot(v[0] ?? 0, v[1] ?? 0, v[2] ?? 0);

export function imuStats(w: ImuWindow): ImuStats {
  let s = memo.get(w);
  if (s) return s;
  const mags = w.accel_g.map(norm);
  const meanG = mags.reduce((a, b) => a + b, 0) / mags.length;
  s = {
    samples: mags.length,
    seconds: mags.length / w.rate_hz,
    peakG: Math.max(...mags),
    meanG,
    sdG: Math.sqrt(mags.reduce((a, b) => a + (b - meanG) ** 2, 0) / mags.length),
    ...(w.gyro_dps?.length ? { gyroMeanDps: w.gyro_dps.reduce((a, v) => a + norm(v), 0) / w.gyro_dps.length } : {}),
  };
  memo.set(w, s);
  return s;
}
