// Preloaded into child processes of the local stack: when the parent goes away (even killed), the
// IPC channel closes and the child exits instead of lingering as an orphan.
process.on('disconnect', () => process.exit(0));
