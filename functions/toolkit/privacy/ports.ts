/**
 * Seals and opens personal values of one subject. A sealed value is a self-describing string
 * (see sealedValue.ts) that any copy anywhere can be recognised and audited by.
 */
export interface FieldSealer {
  /** Seals `value` for `subject`; `field` is bound in as additional authenticated data. */
  seal(subject: string, field: string, value: string): Promise<string>;
  /**
   * Opens a sealed value of `field`. Throws `SubjectErasedError` once the subject is erased, and
   * `SealedValueError` when the value was tampered with or belongs to another subject or field.
   */
  open(sealed: string, field: string): Promise<string>;
}
