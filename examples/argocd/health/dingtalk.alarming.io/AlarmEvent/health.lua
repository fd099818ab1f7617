-- Health of an AlarmEvent from its delivery phase and Delivered condition. Suppressed (every matching rule
-- muted, suspended or outside its window) is an outcome the rules asked for, so it is Healthy; an alarm that
-- reached nobody it should have (Failed, PartiallyDelivered, NoMatchingRule) or waits for a configuration
-- fix (Held) is Degraded. Uses only Lua's base library: Argo CD runs argocd-cm scripts without the string
-- library.
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to dispatch the alarm"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to dispatch generation " .. generation
  return hs
end
local message = "phase " .. obj.status.phase
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Delivered" and condition.message ~= nil and condition.message ~= "" then
      message = condition.message
    end
  end
end
local phase = obj.status.phase
if phase == "Delivered" or phase == "Suppressed" then
  hs.status = "Healthy"
elseif phase == "PartiallyDelivered" or phase == "Failed" or phase == "NoMatchingRule" or phase == "Held" then
  hs.status = "Degraded"
elseif phase == "Pending" or phase == "Delivering" then
  hs.status = "Progressing"
else
  hs.status = "Unknown"
end
hs.message = message
return hs
