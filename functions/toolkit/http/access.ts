import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';

/**
 * Who may call a route. A service declares one rule per route in a module of its own (data only), which
 * both its CDK stack (which routes get the JWT authorizer) and its handlers (`httpApi`'s role check)
 * import, so the two cannot drift:
 * - `{ roles, rule? }`: a signed-in caller in one of `roles` (Cognito groups); `rule` says in words what
 *   the handler checks on top (object-level: "only the customer who placed it").
 * - `{ public }`: anyone, with no token; `public` says why that is safe. Every public route is listed
 *   in the README with that reason.
 */
export type Access = { readonly roles: readonly [string, ...string[]]; readonly rule?: string } | { readonly public: string };
export type AccessPolicy = Readonly<Record<string, Access>>;

export const isPublic = (access: Access): access is { readonly public: string } => 'public' in access;

/** The signed-in caller, from the JWT the API's authorizer verified. */
export interface Caller {
  /** The token's `sub`: the user's stable, opaque id in the user pool. */
  readonly sub: string;
  /** The user name (`username` of an access token, `cognito:username` of an ID token). */
  readonly username: string;
  /** The caller's groups (`cognito:groups`). */
  readonly roles: ReadonlySet<string>;
}

/** The caller of a public route: nobody. Its `sub` never equals a stored owner (those are never empty). */
export const ANONYMOUS: Caller = Object.freeze({ sub: '', username: '', roles: new Set<string>() });

/**
 * `cognito:groups` as API Gateway hands it to a Lambda: HTTP APIs pass every claim as a string, an array
 * as its items in brackets (`"[barista counter]"`); a Lambda authorizer's context or a test may pass an
 * array. Group names cannot contain spaces or brackets (Cognito allows `[\p{L}\p{M}\p{S}\p{N}\p{P}]+`
 * but the brackets here are API Gateway's, and a name with a space cannot be created).
 */
const Groups = z.union([
  z.array(z.string()),
  z.string().transform((text) => {
    const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
    return inner.split(' ').filter((group) => group.length > 0);
  }),
]);

const ClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  username: z.string().min(1).max(128).optional(),
  'cognito:username': z.string().min(1).max(128).optional(),
  'cognito:groups': Groups.optional(),
  token_use: z.enum(['access', 'id']).optional(),
});

/** The caller the API's JWT authorizer verified, or `undefined` when the request carries no verified claims. */
export function callerOf(event: APIGatewayProxyEventV2): Caller | undefined {
  const claims = (event.requestContext as { authorizer?: { jwt?: { claims?: unknown } } }).authorizer?.jwt?.claims;
  if (claims === undefined) return undefined;
  const parsed = ClaimsSchema.safeParse(claims);
  if (!parsed.success) return undefined;
  const { sub, username, 'cognito:username': idTokenUsername, 'cognito:groups': groups = [] } = parsed.data;
  return { sub, username: username ?? idTokenUsername ?? sub, roles: new Set(groups) };
}

/** Why a request was refused: `401` with no verified caller, `403` when the caller has none of the route's roles. */
export type Refusal = { readonly statusCode: 401 | 403; readonly error: 'Unauthorized' | 'Forbidden'; readonly message: string };

/**
 * Checks a request against its route's rule: the caller (or `ANONYMOUS` on a public route), or the
 * refusal. API Gateway's authorizer already refused requests without a valid token; this is the check
 * in depth (a route deployed without its authorizer still refuses everyone) and the role check, which
 * the authorizer does not make.
 */
export function authorize(event: APIGatewayProxyEventV2, access: Access | undefined): Caller | Refusal {
  if (access === undefined) return { statusCode: 403, error: 'Forbidden', message: `route ${event.routeKey} has no access rule, so nobody may call it` };
  if (isPublic(access)) return ANONYMOUS;
  const caller = callerOf(event);
  if (!caller) return { statusCode: 401, error: 'Unauthorized', message: 'sign in: this route needs a valid access token (Authorization: Bearer …)' };
  if (!access.roles.some((role) => caller.roles.has(role))) {
    return { statusCode: 403, error: 'Forbidden', message: `route ${event.routeKey} is for ${access.roles.join(' or ')}` };
  }
  return caller;
}

export const isRefusal = (value: Caller | Refusal): value is Refusal => 'statusCode' in value;
