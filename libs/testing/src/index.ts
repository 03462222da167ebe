// @noctria/testing — the integration-test harness: real infrastructure discovery, template databases,
// unique prefixes, condition polling and private servers for fault tests.
export * from './infra.js';
export * from './template-db.js';
export * from './wait.js';
export * from './net.js';
export * from './processes.js';
export * from './compile.js';
