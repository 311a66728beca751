"""Starts the pinned MiniStack in the foreground with the project's workarounds applied.

Workaround (local cloud only, never in lib/ or functions/): MiniStack 1.5.33 ignores
`batchItemFailures` returned for a DynamoDB stream batch and moves its checkpoint past the failed
record, so the record would be lost (AWS instead resumes at the first reported record). Until the
emulator honours partial batch responses for streams, a stream batch whose handler reports any
failure is treated as a failed batch here: the emulator then retries the whole batch, in order.
Records before the failed one are delivered again; the relay's consumers absorb that (FIFO
deduplication by event id, idempotent consumers), exactly as after a retried batch on AWS.
The conformance test `stream partial batch response` pins the behaviour we rely on.
"""
import json
import sys

from ministack.services import lambda_svc

_original_execute = lambda_svc._execute_function


def _reported_failures(result):
    body = result.get("body")
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if isinstance(body, dict):
        return body.get("batchItemFailures") or []
    return []


def _execute_honouring_stream_partial_failures(func, event, *args, **kwargs):
    result = _original_execute(func, event, *args, **kwargs)
    records = event.get("Records") if isinstance(event, dict) else None
    is_stream_batch = bool(records) and isinstance(records[0], dict) and records[0].get("eventSource") == "aws:dynamodb"
    if is_stream_batch and not result.get("error") and _reported_failures(result):
        return {
            **result,
            "error": True,
            "body": {"errorType": "PartialBatchFailure", "errorMessage": "stream batch reported batchItemFailures; retrying from the batch start"},
        }
    return result


lambda_svc._execute_function = _execute_honouring_stream_partial_failures

from ministack.app import main  # noqa: E402  (after the patch, so the poller sees it)

if __name__ == "__main__":
    sys.argv = ["ministack"]
    sys.exit(main())
