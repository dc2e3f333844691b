/**
 * The one error the query layer raises: the filter, sort or rule text the
 * caller gave cannot be used. Layers above turn it into a 400.
 */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}
