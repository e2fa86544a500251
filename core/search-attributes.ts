// Typed search-attribute keys (registered by the dev stack; see infra/stack.ts).
// Keep PHI out of these: search attributes are never encrypted by the payload codec.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CampaignIdKey = defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD);
export const StageKey = defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD);
export const DatasetKey = defineSearchAttributeKey('Dataset', SearchAttributeType.KEYWORD);
export const VariantKey = defineSearchAttributeKey('Variant', SearchAttributeType.KEYWORD);
