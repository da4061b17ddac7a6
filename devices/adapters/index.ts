/** The shipped adapters, registered on import (devices/adapters.ts has the seam). */
import { getAdapter, registerAdapter } from '../adapters.ts';
import { hikvisionIsapi } from './hikvision-isapi.ts';

if (!getAdapter(hikvisionIsapi.name)) registerAdapter(hikvisionIsapi);

export { hikvisionIsapi };
export * from '../adapters.ts';
