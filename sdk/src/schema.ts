import { SchemaValidationError } from "./errors.js";

/** Anything that validates by `parse(unknown) => T` and throws otherwise (zod, arktype, valibot wrappers...). */
export interface Schema<T> {
  parse(data: unknown): T;
}

/** Runs the schema when there is one; a throw becomes SchemaValidationError naming what was checked. */
export function parseWithSchema<T>(schema: Schema<T> | undefined, data: unknown, subject: string): T {
  if (!schema) return data as T;
  try {
    return schema.parse(data);
  } catch (error) {
    throw new SchemaValidationError(subject, error);
  }
}
