import ArgumentParser
import Foundation
import SerialTransport

/// `cellrig ports`: the serial ports of this machine, with USB identities to put in a rig file.
struct Ports: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the serial ports of this machine, with USB vendor and product ids and serial numbers.",
        discussion: """
            A rig file can name a USB instrument by identity instead of by device path, so it is found again \
            under another /dev/ttyACM* name: port: usb:VID:PID:SERIAL (e.g. usb:2a03:0043:ES4-1234).
            """)

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let ports: [SerialPortInfo]
        do {
            ports = try listSerialPorts()
        } catch {
            throw CommandFailure("cannot list serial ports: \(error)")
        }
        if json { return try printJSON(ports) }
        guard !ports.isEmpty else {
            print("No serial ports found: no USB serial devices are connected to this machine.")
            return
        }
        for port in ports {
            var fields = [port.path, port.attachment.rawValue]
            if let vendor = port.usbVendorID, let product = port.usbProductID {
                fields.append("usb:\(hex4(vendor)):\(hex4(product))" + (port.usbSerialNumber.map { ":\($0)" } ?? ""))
            }
            let names = [port.manufacturer, port.product].compactMap { $0 }.joined(separator: " ")
            fields.append(names.isEmpty ? port.description : names)
            print(fields.joined(separator: "\t"))
        }
        if !ports.contains(where: { $0.attachment == .usb }) {
            print("No USB serial devices are connected.")
        }
    }

    private func hex4(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
