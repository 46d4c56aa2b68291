/**
 * Every webhook of the organization, ticket and survey ones in one list, with
 * the surveys, event types and the server's lists (`GET /api/meta`): loaded
 * once after sign-in and reloaded after each change, so any page can name a
 * webhook or find its API path by id.
 */
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import { all, api, type EventType, type Survey, type Webhook } from './api.js';
import { loadMeta, type Meta } from './meta.js';
import { useAsync, type AsyncState } from './ui.js';

export interface Directory {
  webhooks: Webhook[];
  surveys: Survey[];
  eventTypes: EventType[];
  meta: Meta;
}

async function loadDirectory(): Promise<Directory> {
  const [tickets, surveys, eventTypes, meta] = await Promise.all([
    all<Webhook>('/api/webhooks'),
    all<Survey>('/api/surveys'),
    api<{ data: EventType[] }>('GET', '/api/event-types'),
    loadMeta(),
  ]);
  const bySurvey = await Promise.all(
    surveys.map((s) => all<Webhook>(`/api/surveys/${s.id}/webhooks`)),
  );
  const webhooks = [...tickets, ...bySurvey.flat()].sort((a, b) => (a.id < b.id ? 1 : -1));
  return { webhooks, surveys, eventTypes: eventTypes.data, meta };
}

const Context = createContext<AsyncState<Directory> | null>(null);

export function DirectoryProvider({
  path,
  children,
}: {
  /** The current path: each navigation reloads, so changes made elsewhere show up. */
  path: string;
  children: ComponentChildren;
}) {
  const state = useAsync(loadDirectory, [path]);
  return <Context.Provider value={state}>{children}</Context.Provider>;
}

export function useDirectory(): AsyncState<Directory> {
  const state = useContext(Context);
  if (!state) throw new Error('useDirectory outside DirectoryProvider');
  return state;
}

export function surveyName(dir: Directory, surveyId: string | null): string {
  if (surveyId === null) return 'Tickets';
  return `Survey: ${dir.surveys.find((s) => s.id === surveyId)?.name ?? surveyId}`;
}
