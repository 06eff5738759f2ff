// Where rsync's connect program finds the client config: the client agent sets it for rsync.
export const CONFIG_ENV = 'DVM_AGENT_CONFIG';
