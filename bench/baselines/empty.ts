/**
 * Start-up baseline: an empty built script. `node empty.js` is what any Node command costs before it
 * does anything (the runtime's own start and exit), the floor of the processor's start-up.
 */
export {};
