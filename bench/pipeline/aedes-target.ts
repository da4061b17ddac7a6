/** Bare aedes, the baseline: an aedes 1.x broker on a TCP server with Nagle off, no hooks. Prints "READY <port>". */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer({ noDelay: true }, broker.handle);
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => console.log(`READY ${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => server.close(() => broker.close(() => process.exit(0))));
