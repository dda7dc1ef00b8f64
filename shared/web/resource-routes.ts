import { app, type HttpMethod, type HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import type { Caller } from '../admin/caller.ts';
import type { ChangeContext } from '../audit/log.ts';
import { ifMatch, json, jsonWithEtag, noContent, readJson } from './body.ts';
import { actorOf, changeContextOf, type RequestContext } from './endpoint.ts';
import { endpoint } from './runtime.ts';
import type { Services } from './services.ts';

/**
 * The management API of a versioned admin resource (integrations, applications): list, create, get,
 * PATCH and DELETE under `manage/<plural>`, plus its own actions on `manage/<plural>/{<param>}/…`.
 * Every route parses the request, calls one service method with the caller passed along (the
 * service decides what needs a recent sign-in) and shapes the answer; the version travels as ETag
 * and If-Match.
 */

/** What the routes need from a resource's service. */
export interface ResourceService<V extends { etag: string }, C, P> {
  list(): Promise<V[]>;
  get(id: string): Promise<V>;
  create(input: C, actor: string, ctx: ChangeContext, caller?: Caller): Promise<V>;
  update(
    id: string,
    patch: P,
    ifMatch: string | undefined,
    actor: string,
    ctx: ChangeContext,
    caller?: Caller,
  ): Promise<V>;
  delete(id: string, ifMatch: string | undefined, actor: string, ctx: ChangeContext): Promise<void>;
}

export interface ResourceRoutesSpec<V extends { etag: string }, C, P> {
  /** Path segment after `manage/` and prefix of the function names, e.g. `integrations`. */
  plural: string;
  /** The route parameter naming one resource, e.g. `id`. */
  param: string;
  bodyLimit: number;
  createSchema: z.ZodType<C>;
  patchSchema: z.ZodType<P>;
  service: (services: Services) => ResourceService<V, C, P>;
  /** The id of a resource just created, for its Location. */
  idOf: (created: V) => string;
}

/** The parts of a request every change passes to its service. */
export interface ChangeArgs {
  id: string;
  ifMatch: string | undefined;
  actor: string;
  ctx: ChangeContext;
  caller: Caller | undefined;
}

export class ResourceRoutes<V extends { etag: string }, C, P> {
  constructor(private readonly spec: ResourceRoutesSpec<V, C, P>) {}

  /** Registers list, create, get, update and delete. */
  registerCrud(): this {
    const { plural, param, bodyLimit, createSchema, patchSchema, service, idOf } = this.spec;
    const collection = `manage/${plural}`;
    const item = `${collection}/{${param}}`;
    app.http(
      `${plural}-list`,
      endpoint({
        route: collection,
        methods: ['GET'],
        handler: async ({ services }) => json(200, { items: await service(services).list() }),
      }),
    );
    app.http(
      `${plural}-create`,
      endpoint({
        route: collection,
        methods: ['POST'],
        handler: async (rc) => {
          const input = await readJson(rc.request, createSchema, bodyLimit);
          const created = await service(rc.services).create(
            input,
            actorOf(rc),
            changeContextOf(rc),
            rc.principal,
          );
          return jsonWithEtag(201, created, { Location: `/api/${collection}/${idOf(created)}` });
        },
      }),
    );
    app.http(
      `${plural}-get`,
      endpoint({
        route: item,
        methods: ['GET'],
        handler: async (rc) => jsonWithEtag(200, await service(rc.services).get(this.idOf(rc))),
      }),
    );
    this.change('update', '', 'PATCH', async (rc, a) => {
      const patch = await readJson(rc.request, patchSchema, bodyLimit);
      const updated = await service(rc.services).update(a.id, patch, a.ifMatch, a.actor, a.ctx, a.caller);
      return jsonWithEtag(200, updated);
    });
    this.change('delete', '', 'DELETE', async (rc, a) => {
      await service(rc.services).delete(a.id, a.ifMatch, a.actor, a.ctx);
      return noContent();
    });
    return this;
  }

  /**
   * A change of one resource at `manage/<plural>/{<param>}<suffix>`, registered as
   * `<plural>-<name>`. If-Match is read before the body, as for every change.
   */
  change(
    name: string,
    suffix: string,
    method: HttpMethod,
    run: (rc: RequestContext, args: ChangeArgs) => Promise<HttpResponseInit>,
  ): this {
    app.http(
      `${this.spec.plural}-${name}`,
      endpoint({
        route: `manage/${this.spec.plural}/{${this.spec.param}}${suffix}`,
        methods: [method],
        handler: (rc) =>
          run(rc, {
            id: this.idOf(rc),
            ifMatch: ifMatch(rc.request),
            actor: actorOf(rc),
            ctx: changeContextOf(rc),
            caller: rc.principal,
          }),
      }),
    );
    return this;
  }

  private idOf(rc: RequestContext): string {
    return rc.request.params[this.spec.param] ?? '';
  }
}
