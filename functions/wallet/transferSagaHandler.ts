import { defineSagaHandler } from '../toolkit/saga';
import { transferSaga } from './transferSaga';

/** The transfer saga's function: advances each transfer on the wallet's events and its own timers. */
export const handler = defineSagaHandler(transferSaga);
