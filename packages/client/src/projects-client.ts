import { CoreServiceService as Core } from '@featurestore/protocol/featurestore/v1/core';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import { projectOf, tagFilterMessage } from './messages.js';
import type {
  CreateProjectInput,
  ListProjectsInput,
  Page,
  Project,
  UpdateProjectInput,
} from './records.js';

/** Projects, as the engine's `projects` service: the same methods, without the principal. */
export class ProjectsClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  /** Creates a project; the caller becomes its owner. */
  async create(input: CreateProjectInput, options?: CallOptions): Promise<Project> {
    const request = {
      name: input.name,
      description: input.description ?? '',
      tags: input.tags ?? {},
    };
    return projectOf(await this.#calls.unary(Core.createProject, request, 'once', options));
  }

  async get(name: string, options?: CallOptions): Promise<Project> {
    return projectOf(await this.#calls.unary(Core.getProject, { name }, 'idempotent', options));
  }

  /** The projects the caller can see, one page at a time. */
  async list(input: ListProjectsInput = {}, options?: CallOptions): Promise<Page<Project>> {
    const request = {
      namePrefix: input.namePrefix ?? '',
      owner: input.owner ?? '',
      tag: tagFilterMessage(input.tag),
      text: input.text ?? '',
      pageSize: input.pageSize ?? 0,
      pageToken: input.pageToken ?? '',
    };
    const page = await this.#calls.unary(Core.listProjects, request, 'idempotent', options);
    return {
      items: page.projects.map(projectOf),
      ...(page.nextPageToken === '' ? {} : { nextPageToken: page.nextPageToken }),
    };
  }

  /** Changes the description or replaces the tags. */
  async update(name: string, input: UpdateProjectInput, options?: CallOptions): Promise<Project> {
    const request = {
      name,
      description: input.description,
      tags: input.tags ?? {},
      replaceTags: input.tags !== undefined,
      expectedRevision: input.expectedRevision,
    };
    return projectOf(await this.#calls.unary(Core.updateProject, request, 'once', options));
  }

  /** Deletes a project; refused while it holds feature sets unless `force`. */
  async delete(
    name: string,
    input: { force?: boolean } = {},
    options?: CallOptions,
  ): Promise<void> {
    await this.#calls.unary(
      Core.deleteProject,
      { name, force: input.force === true },
      'once',
      options,
    );
  }
}
