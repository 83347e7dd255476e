/// A phase ran out of time.
struct TimedOut: Error, Sendable {}

/// Runs `body` for at most `limit`: its value, or `TimedOut` once the limit passes (the body
/// is cancelled, and this waits for it to end: bodies here only wait on things that end on
/// cancellation). Errors of the body pass through.
func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
  try await withThrowingTaskGroup(of: T?.self) { group in
    group.addTask { try await body() }
    group.addTask {
      try await Task.sleep(for: limit)
      return nil
    }
    defer { group.cancelAll() }
    // Bound to a local before it is returned (see "Rules of the code").
    let first = try await group.next()
    guard let finished = first, let value = finished else { throw TimedOut() }
    return value
  }
}
