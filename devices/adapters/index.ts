/** The shipped adapters, registered on import (devices/adapters.ts has the seam). */
import { getAdapter, registerAdapter } from '../adapters.ts';
import { hikvisionIsapi } from './hikvision-isapi.ts';
import { zigbee2mqtt } from './zigbee2mqtt.ts';

for (const a of [hikvisionIsapi, zigbee2mqtt]) if (!getAdapter(a.name)) registerAdapter(a);

export { hikvisionIsapi, zigbee2mqtt };
export * from '../adapters.ts';
