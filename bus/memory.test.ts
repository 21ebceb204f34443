// Runs the Bus conformance suite against the in-process bus.
import { busConformance } from './conformance.ts';
import { MemoryHub } from './memory.ts';

// Every bus the suite makes is a connection to one hub, as every NATS bus is a connection to one server.
let hub: MemoryHub | undefined;
busConformance('memory', async (streams) => (hub ??= new MemoryHub({ streams })).connect());
