/**
 * Small models as ONNX, built in TypeScript (there is no Python here): standardise the
 * input, then dense layers (Gemm) with ReLU between them and a sigmoid at the end.
 * A logistic regression is the one-layer case. Opset 13, float32, batch dimension N.
 */
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export interface Dense {
  /** weights[in][out] */
  weights: number[][];
  bias: number[];
}

export interface MlpSpec {
  name: string;
  inputName: string;
  outputName: string;
  /** Per-feature standardisation applied inside the graph: (x - mean) / std. */
  mean: number[];
  std: number[];
  layers: Dense[];
}

const tensor = (name: string, dims: number[], data: number[]) => onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: data });
const valueInfo = (name: string, dims: (number | string)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'string' ? onnx.TensorShapeProto.Dimension.create({ dimParam: d }) : onnx.TensorShapeProto.Dimension.create({ dimValue: d }),
          ),
        }),
      }),
    }),
  });

export function buildMlp(spec: MlpSpec): Uint8Array {
  const f = spec.mean.length;
  const init = [
    tensor('mean', [f], spec.mean),
    tensor(
      'std',
      [f],
      spec.std.map((s) => (s === 0 ? 1 : s)),
    ),
  ];
  const nodes = [
    onnx.NodeProto.create({ opType: 'Sub', input: [spec.inputName, 'mean'], output: ['centred'] }),
    onnx.NodeProto.create({ opType: 'Div', input: ['centred', 'std'], output: ['h0'] }),
  ];
  spec.layers.forEach((l, i) => {
    const inDim = l.weights.length;
    const outDim = l.bias.length;
    init.push(tensor(`W${i}`, [inDim, outDim], l.weights.flat()), tensor(`B${i}`, [outDim], l.bias));
    const last = i === spec.layers.length - 1;
    nodes.push(onnx.NodeProto.create({ opType: 'Gemm', input: [`h${i}`, `W${i}`, `B${i}`], output: [last ? 'logit' : `z${i}`] }));
    if (!last) nodes.push(onnx.NodeProto.create({ opType: 'Relu', input: [`z${i}`], output: [`h${i + 1}`] }));
  });
  nodes.push(onnx.NodeProto.create({ opType: 'Sigmoid', input: ['logit'], output: [spec.outputName] }));
  const graph = onnx.GraphProto.create({
    name: spec.name,
    initializer: init,
    input: [valueInfo(spec.inputName, ['N', f])],
    output: [valueInfo(spec.outputName, ['N', spec.layers.at(-1)!.bias.length])],
    node: nodes,
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'vigil-models',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
