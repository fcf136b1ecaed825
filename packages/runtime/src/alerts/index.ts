export * from './alerter.js';
export * from './channels.js';
export * from './monitor.js';
export * from './triggers.js';
