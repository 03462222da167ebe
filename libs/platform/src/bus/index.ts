export type {
  Bus,
  BusMessage,
  ConsumeOptions,
  Headers,
  MessageHandler,
  PublishAck,
  PublishOptions,
  RequestHandler,
  Subscription,
} from './bus.port.js';
export { BusError, BusErrorIds, errorIdOf, type BusErrorId } from './bus.errors.js';
export { BusHeaders, backoffDelay, deadLetterMsgId, stderrBusLogger, type BusLogger } from './bus.shared.js';
export { isValidSubject, subjectMatches, subjectsOverlap, subjectRoot } from './subjects.js';
export { JetStreamBus, jetStreamDurables, type JetStreamBusOptions } from './jetstream.bus.js';
export { InProcessBus, type InProcessBusOptions } from './inprocess.bus.js';
