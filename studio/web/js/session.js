// The API key and its role, kept for this browser tab only (sessionStorage).
const KEY = "segmentql.key";
const ROLE = "segmentql.role";

export const storedKey = () => sessionStorage.getItem(KEY) || "";
export const storedRole = () => sessionStorage.getItem(ROLE) || "";
export const canWrite = () => storedRole() === "WRITE" || storedRole() === "ADMIN";

export function storeKey(key, role = "") {
  if (!key) {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
    return;
  }
  sessionStorage.setItem(KEY, key);
  if (role) sessionStorage.setItem(ROLE, role);
}
