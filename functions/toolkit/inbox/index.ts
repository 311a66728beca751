export { AlreadyAppliedError, InboxError, MessageIdReusedError } from './errors';
export { digestOf, INBOX, inboxKey, inboxPut, type InboxClaim } from './inbox';
