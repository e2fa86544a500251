// The failure converter of every client and worker while payload encryption is on (lib/temporal.ts
// dataConverter). A module of its own because workflow code runs in the SDK's sandbox: the worker
// bundles it (DataConverter.failureConverterPath) so failures a *workflow* raises are converted the
// same way as those of activities and clients. encodeCommonAttributes moves a failure's message and
// stack trace into a payload, which the payload codec then encrypts: the history shows only
// "Encoded failure". (Deterministic: the SDK's own converter, one option set.)
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
