export * from './alerter.js';
export * from './channels.js';
export * from './monitor.js';
export * from './outside-holder.js';
export * from './triggers.js';
