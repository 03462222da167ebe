export * from './api-response.js';
