/** Terminal colours (none when the output is not a terminal, e.g. in CI logs). */
const on = process.stdout.isTTY === true && !process.env.NO_COLOR;
const code = (value: string) => (on ? value : '');
export const c = {
  dim: code('\x1b[2m'),
  bold: code('\x1b[1m'),
  green: code('\x1b[32m'),
  cyan: code('\x1b[36m'),
  yellow: code('\x1b[33m'),
  red: code('\x1b[31m'),
  magenta: code('\x1b[35m'),
  reset: code('\x1b[0m'),
};
