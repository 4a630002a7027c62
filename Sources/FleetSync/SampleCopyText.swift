import NIOCore
import Storage

/// Writes samples in PostgreSQL's COPY text format: one line per row, columns separated by tabs, `\N` for NULL.
/// Numbers are Swift's shortest text that reads back to the same double, so the central copy is exact.
struct SampleCopyText {
    /// `daemon_id<TAB>run_id<TAB>`, the same for every row of a batch (daemon ids need no escaping).
    let prefix: [UInt8]

    init(daemonID: String, runID: Int64) {
        prefix = Array("\(daemonID)\t\(runID)\t".utf8)
    }

    func append(_ row: SyncSampleRow, to buffer: inout ByteBuffer) {
        buffer.writeBytes(prefix)
        buffer.writeString(String(row.seq))
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(row.time_s.description)
        for value in [row.current_A, row.voltage_V, row.voltageWERE_V, row.pressure_MPa, row.temperature_C] {
            buffer.writeInteger(UInt8(ascii: "\t"))
            if let value {
                buffer.writeString(value.description)
            } else {
                buffer.writeStaticString("\\N")
            }
        }
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(String(row.cycle))
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(String(row.stepIndex))
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(String(row.flags))
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}
