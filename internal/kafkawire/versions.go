package kafkawire

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// versions are the requests the listener serves and the versions of each it
// implements; ApiVersions advertises exactly these.
var versions = []struct {
	key    kmsg.Key
	lo, hi int16
}{
	{kmsg.Produce, 3, 9},
	{kmsg.Fetch, 4, 12},
	{kmsg.ListOffsets, 1, 7},
	{kmsg.Metadata, 0, 12},
	{kmsg.OffsetCommit, 2, 8},
	{kmsg.OffsetFetch, 1, 7},
	{kmsg.FindCoordinator, 0, 4},
	{kmsg.JoinGroup, 0, 9},
	{kmsg.Heartbeat, 0, 4},
	{kmsg.LeaveGroup, 0, 5},
	{kmsg.SyncGroup, 0, 5},
	{kmsg.DescribeGroups, 0, 5},
	{kmsg.ListGroups, 0, 4},
	{kmsg.SASLHandshake, 0, 1},
	{kmsg.ApiVersions, 0, 3},
	{kmsg.CreateTopics, 2, 7},
	{kmsg.DeleteTopics, 1, 6},
	{kmsg.InitProducerID, 0, 4},
	{kmsg.DescribeConfigs, 0, 4},
	{kmsg.DescribeLogDirs, 0, 4},
	{kmsg.SASLAuthenticate, 0, 2},
	{kmsg.DeleteGroups, 0, 2},
}

// supported returns the versions of a request the listener implements.
func supported(key int16) (lo, hi int16, ok bool) {
	i := slices.IndexFunc(versions, func(v struct {
		key    kmsg.Key
		lo, hi int16
	}) bool {
		return v.key.Int16() == key
	})
	if i < 0 {
		return 0, 0, false
	}
	return versions[i].lo, versions[i].hi, true
}

func (c *conn) apiVersions(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	for _, v := range versions {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = v.key.Int16(), v.lo, v.hi
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	slices.SortFunc(resp.ApiKeys, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey - b.ApiKey) })
	return resp
}
