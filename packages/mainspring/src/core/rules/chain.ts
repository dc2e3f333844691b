import type { ResolverScope } from './field-paths.js';

/** The multi-match subquery under construction: FROM items correlated to the outer row. */
export class Chain {
  readonly from: string[] = [];
  readonly where: string[] = [];
  constructor(
    public alias: string,
    private readonly scope: ResolverScope,
  ) {}

  table(table: string, cond: string): string {
    const alias = this.scope.nextAlias('mm');
    const t = `${this.scope.dialect.ident(table)} ${alias}`;
    if (this.from.length === 0) {
      this.from.push(t);
      this.where.push(cond.replaceAll('{{alias}}', alias));
    } else {
      this.from.push(`JOIN ${t} ON ${cond.replaceAll('{{alias}}', alias)}`);
    }
    this.alias = alias;
    return alias;
  }

  jsonEach(arraySql: string): string {
    const alias = this.scope.nextAlias('mmje');
    const d = this.scope.dialect;
    this.from.push(this.from.length === 0 ? d.jsonEach(arraySql, alias) : d.joinJsonEach(arraySql, alias, false));
    return alias;
  }

  query(valueSql: string): string {
    const where = this.where.length > 0 ? ` WHERE ${this.where.join(' AND ')}` : '';
    return `SELECT ${valueSql} AS v FROM ${this.from.join(' ')}${where}`;
  }
}
