// Test-only: the transfer saga's function (wired by the Saga construct in SagaTestStack).
import { defineSagaHandler } from '../../../functions/toolkit/saga';
import { transferSaga } from './transferSaga';

export const handler = defineSagaHandler(transferSaga);
