/** The error `act` throws (the test fails if it throws nothing, or something that is not an Error). */
export function captureError(act: () => unknown): Error {
  try {
    act();
  } catch (thrown) {
    if (thrown instanceof Error) return thrown;
    throw thrown;
  }
  throw new Error('expected an error, none was thrown');
}
