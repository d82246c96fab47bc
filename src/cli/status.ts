// The exit statuses of the thpemu command (re-exported by main.ts). A module
// of their own so that a command's module can use them without loading the
// commander program.
export const EXIT_OK = 0;
export const EXIT_MISMATCH = 1;
export const EXIT_SCENARIO = 2;
export const EXIT_INVARIANT = 3;
export const EXIT_HOST = 4;
export const EXIT_UNSUPPORTED = 5;
export const EXIT_INTERNAL = 70; // EX_SOFTWARE
