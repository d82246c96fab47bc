// The three kinds of failure, at the bottom of the import graph (every part
// may throw them; this module imports nothing).
//
// - UserError: the caller asked for something invalid (an unknown process, a
//   range outside its region, a bad knob value …). The operation changed
//   nothing. Scenario runs report it as `FILE:LINE: message` (exit 2).
// - OomError: the emulated machine ran out of memory half-way; the operation
//   was rolled back, so it is a UserError too.
// - InternalError: the emulator broke one of its own rules (a WebAssembly
//   trap, the core's bad_page(), a `BUG:` check). Scenario runs report it as
//   an invariant violation (exit 3); the loader turns every trap into one.

/** An error the user caused; state is left unchanged. */
export class UserError extends Error {}

/** Emulated out-of-memory while running an operation (rolled back). */
export class OomError extends UserError {}

/** An emulator bug: a trap in the core, a bad page, a broken `BUG:` check. */
export class InternalError extends Error {}

/** The core's bad_page() fired: the emulator's state is corrupt. */
export class BadPageError extends InternalError {}
