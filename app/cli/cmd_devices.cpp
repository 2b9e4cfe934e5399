// quantbench-cli devices: the Vulkan devices, what each offers, and where computation would run.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/backend/backend.h"
#include "core/util/error.h"
#include "gpu/vk_device.h"
#include "gpu/vulkan_backend.h"

namespace qbcli {
namespace {

using qb::gpu::DeviceInfo;

struct DeviceReport {
    std::vector<DeviceInfo> devices;
    std::string problem;  // why there is no device list, or why none is selected
    int selected = -1;
    std::string backend;  // what select_backend("auto") gives
    std::string backend_notice;
};

DeviceReport gather() {
    DeviceReport report;
    try {
        qb::gpu::Instance instance;
        report.devices = qb::gpu::describe_devices(instance);
        const char* forced = std::getenv("QB_VULKAN_DEVICE");
        report.selected = int(qb::gpu::choose_device(report.devices, forced ? forced : ""));
    } catch (const qb::Error& e) {
        report.problem = e.problem();
    }
    qb::gpu::BackendChoice choice = qb::gpu::select_backend("auto");
    report.backend = choice.backend->description();
    report.backend_notice = choice.notice;
    return report;
}

std::string yes_no(bool value) { return value ? "yes" : "no"; }

std::string bytes_text(uint64_t bytes) {
    char text[32];
    if (bytes >= (uint64_t(1) << 30))
        std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(uint64_t(1) << 30));
    else if (bytes >= (uint64_t(1) << 20))
        std::snprintf(text, sizeof text, "%.0f MiB", double(bytes) / double(1 << 20));
    else
        std::snprintf(text, sizeof text, "%.0f KiB", double(bytes) / 1024.0);
    return text;
}

nlohmann::json device_json(const DeviceInfo& d) {
    nlohmann::json heaps = nlohmann::json::array();
    for (const auto& h : d.heaps) heaps.push_back({{"bytes", h.bytes}, {"device_local", h.device_local}});
    return {{"index", d.index},
            {"name", d.name},
            {"type", qb::gpu::device_type_name(d.type)},
            {"driver", d.driver_name},
            {"driver_info", d.driver_info},
            {"api_version", d.api_version_text()},
            {"vendor_id", d.vendor_id},
            {"device_id", d.device_id},
            {"memory_heaps", heaps},
            {"max_storage_buffer_range", d.max_storage_buffer_range},
            {"max_workgroup_count", {d.max_workgroup_count[0], d.max_workgroup_count[1], d.max_workgroup_count[2]}},
            {"max_workgroup_invocations", d.max_workgroup_invocations},
            {"max_shared_memory_bytes", d.max_shared_memory_bytes},
            {"subgroup_size", d.subgroup_size},
            {"subgroup_arithmetic", d.subgroup_arithmetic},
            {"float16_arithmetic", d.float16_arithmetic},
            {"int8_arithmetic", d.int8_arithmetic},
            {"float64", d.float64},
            {"storage_8bit", d.storage_8bit},
            {"storage_16bit", d.storage_16bit},
            {"timestamps", d.timestamps},
            {"unusable_reason", d.unusable_reason()}};
}

void print_json(const DeviceReport& report) {
    nlohmann::json devices = nlohmann::json::array();
    for (const DeviceInfo& d : report.devices) devices.push_back(device_json(d));
    nlohmann::json out = {{"devices", devices},
                          {"selected", report.selected >= 0 ? nlohmann::json(report.selected) : nlohmann::json()},
                          {"problem", report.problem},
                          {"backend", report.backend},
                          {"backend_notice", report.backend_notice}};
    std::printf("%s\n", out.dump(2).c_str());
}

void print_device(const DeviceInfo& d) {
    std::printf("[%u] %s\n", d.index, d.name.c_str());
    std::printf("    type %s, Vulkan %s, driver %s %s\n", std::string(qb::gpu::device_type_name(d.type)).c_str(),
                d.api_version_text().c_str(), d.driver_name.c_str(), d.driver_info.c_str());
    std::string heaps;
    for (const auto& h : d.heaps) heaps += (heaps.empty() ? "" : ", ") + bytes_text(h.bytes) + (h.device_local ? " device-local" : " host");
    std::printf("    memory heaps: %s\n", heaps.c_str());
    std::printf("    max storage buffer range %s, workgroups %u x %u x %u of up to %u invocations, %s shared memory\n",
                bytes_text(d.max_storage_buffer_range).c_str(), d.max_workgroup_count[0], d.max_workgroup_count[1],
                d.max_workgroup_count[2], d.max_workgroup_invocations, bytes_text(d.max_shared_memory_bytes).c_str());
    std::printf("    subgroup size %u (arithmetic %s), fp16 arithmetic %s, int8 arithmetic %s, fp64 %s, "
                "8/16-bit storage %s/%s, timestamps %s\n",
                d.subgroup_size, yes_no(d.subgroup_arithmetic).c_str(), yes_no(d.float16_arithmetic).c_str(),
                yes_no(d.int8_arithmetic).c_str(), yes_no(d.float64).c_str(), yes_no(d.storage_8bit).c_str(),
                yes_no(d.storage_16bit).c_str(), yes_no(d.timestamps).c_str());
    if (auto why = d.unusable_reason(); !why.empty()) std::printf("    not usable: it %s\n", why.c_str());
}

void print_text(const DeviceReport& report) {
    for (const DeviceInfo& d : report.devices) print_device(d);
    if (report.selected >= 0)
        std::printf("selected Vulkan device: [%d] %s\n", report.selected, report.devices[size_t(report.selected)].name.c_str());
    else
        std::printf("no Vulkan device: %s\n", report.problem.c_str());
    std::printf("default backend: %s\n", report.backend.c_str());
    if (!report.backend_notice.empty()) std::printf("notice: %s\n", report.backend_notice.c_str());
}

}  // namespace

int run_devices(const CommandArgs& argv) {
    Args args(argv, {{}, {"json"}});
    if (!args.positionals().empty()) throw qb::Error("usage", "devices takes no arguments");
    const DeviceReport report = gather();
    args.flag("json") ? print_json(report) : print_text(report);
    return 0;
}

}  // namespace qbcli
