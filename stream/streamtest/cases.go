package streamtest

func (s *suite) tests() []testCase {
	noRetention := ""
	if !s.b.Features.Retention {
		noRetention = "backend leaves retention to the engine (Features.Retention off)"
	}
	noEngineRestart := ""
	if s.b.Features.RestartEngine == nil {
		noEngineRestart = "backend cannot restart its engine in tests (Features.RestartEngine nil)"
	}
	return []testCase{
		{name: "RoundTripWithHeaders", fn: s.testRoundTrip},
		{name: "NullAndEmptyStayApart", fn: s.testNullAndEmpty},
		{name: "ProduceAssignsPartitionsOffsetsAndIDs", fn: s.testProduceAssigns},
		{name: "PerKeyOrderUnderConcurrentProducers", fn: s.testPerKeyOrder},
		{name: "LargeValues", fn: s.testLargeValues},
		{name: "ManyTopics", fn: s.testManyTopics},
		{name: "ReadByPosition", fn: s.testReadByPosition},
		{name: "OffsetForTime", fn: s.testOffsetForTime},
		{name: "TopicAdmin", fn: s.testTopicAdmin},
		{name: "TopicSizes", fn: s.testTopicSizes},
		{name: "ConsumeCreatesTopicOnFirstUse", fn: s.testConsumeCreatesTopic},
		{name: "GroupsAreIndependent", fn: s.testGroupsIndependent},
		{name: "MembersSplitPartitions", fn: s.testMembersSplit},
		{name: "RebalanceWhenMemberLeaves", fn: s.testRebalanceOnLeave},
		{name: "HandlerErrorRedelivers", fn: s.testHandlerErrorRedelivers},
		{name: "PartialErrorCommitsPrefix", fn: s.testPartialError},
		{name: "CloseWithoutCommitRedelivers", fn: s.testCloseWithoutCommit},
		{name: "RestartResumesFromCommitted", fn: s.testRestartResumes},
		{name: "StartLatest", fn: s.testStartLatest},
		{name: "ResetOffsets", fn: s.testResetOffsets},
		{name: "LagIsExact", fn: s.testLag},
		{name: "GroupAdmin", fn: s.testGroupAdmin},
		{name: "ContextCancellation", fn: s.testContextCancellation},
		{name: "ConsumeCancelledBeforeJoining", fn: s.testCancelBeforeJoin},
		{name: "ProcessRestartLosesNothing", fn: s.testProcessRestart},
		{name: "EngineRestartLosesNothing", skip: noEngineRestart, fn: s.testEngineRestart},
		{name: "RetentionKeepsUnconsumed", skip: noRetention, fn: s.testRetention},
	}
}
