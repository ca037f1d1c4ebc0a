/**
 * The agents list's filter form, checked by the registry's rules for its
 * filters (lib/rules/registry) before the URL, and so the query, changes.
 */
import * as z from "zod/mini";

import { agentFilterField } from "@/lib/rules/registry";
import { trimSpace } from "@/lib/rules/rule";

export interface AgentFilterValues {
  search: string;
  status: string;
  owner: string;
  agentType: string;
}

const typed = z.string().check(z.overwrite(trimSpace));

export const agentFilterForm = z.object({
  search: agentFilterField.search,
  status: agentFilterField.status,
  owner: z.pipe(typed, agentFilterField.owner),
  agentType: z.pipe(typed, agentFilterField.agentType),
});

/** URL parameters by filter (the type is ?type=). */
export const AGENT_FILTER_PARAMS: Record<keyof AgentFilterValues, string> = { search: "search", status: "status", owner: "owner", agentType: "type" };

/** The filters a URL holds (the owner only for a platform admin, whom alone the server lets choose one). */
export function agentFilterValues(params: URLSearchParams, platform: boolean): AgentFilterValues {
  const get = (k: keyof AgentFilterValues) => params.get(AGENT_FILTER_PARAMS[k]) ?? "";
  return { search: get("search"), status: get("status"), owner: platform ? get("owner") : "", agentType: get("agentType") };
}

/** The form field a server field path names. */
export function agentFilterFormField(apiField: string): keyof AgentFilterValues | undefined {
  return (Object.keys(AGENT_FILTER_PARAMS) as Array<keyof AgentFilterValues>).find((k) => k === apiField);
}
