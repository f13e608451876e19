package server

// clusterCommands declares CLUSTER, READONLY, READWRITE and ASKING.
func clusterCommands() []spec { return nil }

// clusterState is the node's cluster membership and routing state.
type clusterState struct{}

// clusterClient is a client's cluster flags.
type clusterClient struct{}

// routeCluster answers for a command whose keys this node does not serve
// (MOVED, CROSSSLOT, or the owner's reply in proxy mode) and returns true;
// it returns false when the command should run here.
func (s *Server) routeCluster(c *client, cmd *command, args [][]byte) bool { return false }

// ClusterConfig holds the cluster-* directives.
type ClusterConfig struct{}

func (c ClusterConfig) clone() ClusterConfig { return c }
