export { MemberDirectory, type MemberResolution, normalizeMobile } from './member-directory.ts';
export { type MemberEntry, parseMembersCsv } from './members-csv.ts';
export {
  memberIdentity,
  type PlannedTarget,
  parseServiceSpec,
  planTargets,
  serviceSpec,
  targetNames,
} from './plan.ts';
export {
  cacheReader,
  type ReferenceProblem,
  type ReferenceReader,
  type Resolution,
  type ResolvedGroup,
  type ResolvedMemberApp,
  type ResolvedRobot,
  resolveGroup,
  resolveMemberApp,
} from './resolve.ts';
