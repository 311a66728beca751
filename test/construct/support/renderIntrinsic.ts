/**
 * Renders a synthesized value built from `Fn::Join`, `Ref` and `Fn::GetAtt` to a string, with each
 * reference as a placeholder (`{{Ref:Id}}`, `{{GetAtt:Id.Attr}}`). Lets a test parse a value that
 * CloudFormation assembles at deploy time, e.g. a JSON list of queue URLs.
 */
export function renderIntrinsic(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (isObject(value)) {
    if ('Ref' in value) return `{{Ref:${String(value.Ref)}}}`;
    if ('Fn::GetAtt' in value && Array.isArray(value['Fn::GetAtt'])) return `{{GetAtt:${value['Fn::GetAtt'].join('.')}}}`;
    if ('Fn::Join' in value && Array.isArray(value['Fn::Join'])) {
      const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
      return parts.map(renderIntrinsic).join(separator);
    }
  }
  throw new Error(`renderIntrinsic: cannot render ${JSON.stringify(value)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
