import Foundation
import Testing

/// A task executor with one thread of its own: the jobs of every task that prefers it run there, in order.
///
/// Tests that block (a child process they wait for, `usleep` polling) run on such a thread instead of the Swift
/// concurrency pool, which has one thread per core (two on CI): two blocked pool threads would stall every pseudo-
/// terminal simulator and daemon in the test process until a reply timeout fires.
public final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var isShutDown = false

    public init(name: String) {
        let thread = Thread { [self] in runJobs() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: UnownedJob) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Ends the thread once the jobs already enqueued have run.
    public func shutDown() {
        condition.lock()
        isShutDown = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty, !isShutDown { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs each test case (of a suite, recursively) on a thread of its own rather than on the concurrency pool: for
/// tests that block that thread (synchronous process runs, polling with `usleep`).
public struct OffCooperativePoolTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else {
            try await function()
            return
        }
        let executor = DedicatedThreadExecutor(name: "test: \(test.name)")
        defer { executor.shutDown() }
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

extension Trait where Self == OffCooperativePoolTrait {
    /// Runs the test, or every test of the suite, on a thread of its own, off the concurrency pool.
    public static var offCooperativePool: Self { OffCooperativePoolTrait() }
}
