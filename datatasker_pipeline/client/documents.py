"""The GraphQL documents the client sends to the Dagster webserver.

Dagster has no "result of this run" query: results are read from the
materialization events' metadata of the run (``Run.assetMaterializations``),
and the error a person reads from the step failure's ``failureMetadata``.
"""

_METADATA_ENTRY_FIELDS = """
  __typename label
  ... on IntMetadataEntry { intValue intRepr }
  ... on FloatMetadataEntry { floatValue floatRepr }
  ... on BoolMetadataEntry { boolValue }
  ... on TextMetadataEntry { text }
  ... on JsonMetadataEntry { jsonString }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on MarkdownMetadataEntry { mdStr }
  ... on TimestampMetadataEntry { timestamp }
  ... on TableMetadataEntry { table { records schema { columns { name type } } } }
"""

_RUN_FIELDS = """
      runId status jobName creationTime startTime endTime updateTime
      tags { key value }
      stepStats { stepKey status startTime endTime }"""
_MATERIALIZATIONS = """
      assetMaterializations {
        assetKey { path }
        stepKey partition timestamp
        metadataEntries { %s }
      }""" % _METADATA_ENTRY_FIELDS


def _run_query(name: str, fields: str) -> str:
    """A query for one run by ID, answering a Run or the reason there is none."""
    return f"""
query {name}($runId: ID!) {{
  runOrError(runId: $runId) {{
    __typename
    ... on Run {{{fields}
    }}
    ... on RunNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""


# Status, tags, steps and the results (materialization metadata) of a run.
RUN_QUERY = _run_query("DataTaskerRun", _RUN_FIELDS + _MATERIALIZATIONS)
# The same without the results: cheap enough to poll.
RUN_PROGRESS_QUERY = _run_query("DataTaskerRunProgress", _RUN_FIELDS)

_ERROR_FIELDS = "message className cause { message className cause { message className } }"

RUN_EVENTS_QUERY = """
query DataTaskerRunEvents($runId: ID!, $cursor: String, $limit: Int) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      eventConnection(afterCursor: $cursor, limit: $limit) {
        cursor hasMore
        events {
          __typename
          ... on ExecutionStepFailureEvent {
            stepKey message
            error { %(error)s }
            failureMetadata { label description }
          }
          ... on RunFailureEvent { message error { %(error)s } }
          ... on RunCanceledEvent { message }
        }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
""" % {"error": _ERROR_FIELDS}

RUNS_BY_TAGS_QUERY = """
query DataTaskerRunsByTags($tags: [ExecutionTag!], $limit: Int) {
  runsOrError(filter: {tags: $tags}, limit: $limit) {
    __typename
    ... on Runs { results { runId status creationTime startTime endTime tags { key value } } }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""

REPOSITORIES_QUERY = """
query DataTaskerRepositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on PythonError { message }
  }
}
"""

ADD_PARTITION_MUTATION = """
mutation DataTaskerAddPartition($selector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $partitionsDefName, partitionKey: $partitionKey) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionsDefName partitionKey }
    ... on DuplicateDynamicPartitionError { partitionsDefName partitionName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation DataTaskerLaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
    ... on PresetNotFoundError { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
    ... on PythonError { message }
  }
}
"""
