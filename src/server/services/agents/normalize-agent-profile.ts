import { ARTIFACT_TYPES, normalizeTags, type ArtifactType } from "~/server/services/jobs/create-job";
import { AppError } from "~/server/errors";

/** Capability tags match job requirements case-insensitively (#49): stored lower-case, unique, sorted. */
export function normalizeCapabilities(tags: string[]): string[] {
  return normalizeTags(tags);
}

/** Preferred artifact types: a subset of what jobs can ask for, each once, in ARTIFACT_TYPES order. */
export function normalizePreferredArtifactTypes(types: string[], field = "preferred_artifact_types"): ArtifactType[] {
  const unknown = types.filter((t) => !(ARTIFACT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0) {
    throw new AppError("VALIDATION_FAILED", `${field}: unknown artifact type(s) ${unknown.join(", ")}; use ${ARTIFACT_TYPES.join(", ")}`, { field });
  }
  return ARTIFACT_TYPES.filter((t) => types.includes(t));
}
