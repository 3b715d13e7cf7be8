import { z } from "zod";

/** Offset paging shared by every list endpoint (cursor paging is per endpoint). */
export const ZPaging = {
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: "page size, at most 200" }),
  offset: z.coerce.number().int().min(0).default(0),
};
