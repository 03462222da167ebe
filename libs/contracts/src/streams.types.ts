/** Declarative stream/consumer definitions; the bus adapters turn them into JetStream (or in-process) objects. */
export interface StreamDefinition {
  name: string;
  subjects: string[];
  /** Retention of messages, ms (0 = unlimited). */
  maxAgeMs: number;
  /** `Nats-Msg-Id` de-duplication window, ms. */
  duplicateWindowMs: number;
  storage: 'file' | 'memory';
}

export interface ConsumerDefinition {
  stream: string;
  /** Durable name: the consumer survives restarts and resumes where it acked. */
  durable: string;
  filterSubjects: string[];
  /** Deliveries before a message is dead-lettered. */
  maxDeliver: number;
  /** Redelivery delays after a failed handling, ms; the last one repeats. */
  backoffMs: number[];
  ackWaitMs: number;
  maxAckPending: number;
  /** Where messages that exhausted maxDeliver are republished (a subject of the DLQ stream). */
  deadLetterSubject: string;
}
