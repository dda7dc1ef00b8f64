/** The ListResponse message of RFC 7644 §3.4.2. */
import type { Page } from './paging.ts';
import { LIST_RESPONSE } from './urns.ts';

export interface ListResponse<T> {
  schemas: [typeof LIST_RESPONSE];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

/**
 * `resources` is the page already cut by the store; `totalResults` counts every match. A page asked
 * with `count=0` carries no resources but the true total (RFC 7644 §3.4.2.4).
 */
export function listResponse<T>(
  resources: T[],
  totalResults: number,
  page: Pick<Page, 'startIndex'>,
): ListResponse<T> {
  return {
    schemas: [LIST_RESPONSE],
    totalResults,
    startIndex: page.startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
