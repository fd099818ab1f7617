-- Health of a DingTalkService from its kstatus conditions (Ready, Reconciling, Stalled) and
-- observedGeneration. Uses only Lua's base library: Argo CD runs argocd-cm scripts without the string library.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to validate the service"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to validate generation " .. generation
  return hs
end
local ready, reconciling, stalled
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Reconciling" and condition.status == "True" then
    reconciling = condition
  elseif condition.type == "Stalled" and condition.status == "True" then
    stalled = condition
  end
end
if stalled ~= nil then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if ready == nil or (generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to validate the service"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" and reconciling == nil then
  hs.status = "Degraded"
else
  -- False while Reconciling: a transient failure (DingTalk unreachable) the operator retries.
  hs.status = "Progressing"
end
hs.message = ready.message
return hs
