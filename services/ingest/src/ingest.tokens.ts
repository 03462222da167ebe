/** Injection tokens of the ingest module. */
export const INGEST_OPTIONS = 'INGEST_OPTIONS';
