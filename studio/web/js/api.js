// GraphQL over HTTP with the stored key, and the guard that keeps old answers out.
import { storedKey } from "./session.js";

export class ApiError extends Error {
  constructor(message, status = 200) {
    super(message);
    this.status = status;
  }
}

export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      Authorization: `Bearer ${storedKey()}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  if (response.status === 401) {
    throw new ApiError("The API key was refused (missing, revoked or wrong).", 401);
  }
  const body = await response.json();
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "), response.status);
  }
  return body.data;
}

// newestWins(): a function that runs requests and resolves each to its answer, or to
// STALE when a newer request was started meanwhile: an old answer never overwrites a newer one.
export const STALE = Symbol("stale");

export function newestWins() {
  let latest = 0;
  return async (request) => {
    const mine = ++latest;
    try {
      const answer = await request();
      return mine === latest ? answer : STALE;
    } catch (error) {
      if (mine !== latest) return STALE;
      throw error;
    }
  };
}

// A userError's `field` path as the builder's condition address: or[1] and[2] -> "1.2".
export function conditionAddress(field) {
  const or = (field || []).find((p) => /^or\[\d+\]$/.test(p));
  const and = (field || []).find((p) => /^and\[\d+\]$/.test(p));
  if (!or || !and) return null;
  return `${or.match(/\d+/)[0]}.${and.match(/\d+/)[0]}`;
}
