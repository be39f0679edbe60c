//! The problem document of each error: its status, stable code and human text in the request's
//! language, with the catalog of specific details for the codes that have one.

use super::{Error, FieldError, Lang, Problem, REQUEST_ID, current_lang};

impl Error {
    /// Status, stable code, and the human (vi, en) text of this error.
    fn describe(&self) -> (u16, &'static str, &'static str, &'static str) {
        match self {
            Error::BadRequest(_) => (
                400,
                "bad_request",
                "Yêu cầu không hợp lệ",
                "Malformed request",
            ),
            Error::Unreadable { .. } => (
                400,
                "bad_request",
                "Yêu cầu không hợp lệ",
                "Malformed request",
            ),
            Error::Unauthorized(code) => (
                401,
                code,
                "Chưa xác thực hoặc phiên đăng nhập không hợp lệ",
                "Not authenticated or credentials invalid",
            ),
            Error::Forbidden => (
                403,
                "forbidden",
                "Bạn không có quyền thực hiện thao tác này",
                "You are not allowed to do this",
            ),
            Error::Refused(code) => (
                403,
                code,
                "Bạn chưa thể thực hiện thao tác này",
                "You cannot do this yet",
            ),
            Error::NotFound(code) => (404, code, "Không tìm thấy", "Not found"),
            Error::Conflict(code) => (
                409,
                code,
                "Xung đột với trạng thái hiện tại",
                "Conflicts with the current state",
            ),
            Error::IllegalTransition { .. } => (
                409,
                "illegal_transition",
                "Không thể làm thao tác này ở trạng thái hiện tại",
                "This action is not allowed in the current status",
            ),
            Error::PreconditionFailed(code) => (
                412,
                code,
                "Phiên bản giao thức không được hỗ trợ",
                "Unsupported protocol version",
            ),
            Error::PayloadTooLarge => (
                413,
                "payload_too_large",
                "Dữ liệu gửi lên quá lớn",
                "Request body too large",
            ),
            Error::UnsupportedMediaType(code @ "unsupported_photo_type") => (
                415,
                code,
                "Chỉ nhận ảnh JPEG, PNG hoặc WebP (ảnh HEIC: chọn định dạng \"Tương thích nhất\" trong cài đặt máy ảnh)",
                "Send a JPEG, PNG or WebP photo (HEIC photos: set the camera to \"Most compatible\")",
            ),
            Error::UnsupportedMediaType(code) => (
                415,
                code,
                "Định dạng nội dung không được hỗ trợ",
                "Unsupported content type",
            ),
            Error::Validation(_) => (
                422,
                "validation_failed",
                "Dữ liệu không hợp lệ",
                "Some fields are invalid",
            ),
            Error::RateLimited { code, .. } => (
                429,
                code,
                "Quá nhiều yêu cầu, vui lòng thử lại sau",
                "Too many requests, try again later",
            ),
            Error::Unavailable(code) => (
                503,
                code,
                "Dịch vụ tạm thời gián đoạn, vui lòng thử lại sau",
                "Service temporarily unavailable, try again later",
            ),
            Error::Internal(_) => (500, "internal", "Lỗi hệ thống", "Internal error"),
            Error::Http(status, code) => {
                let (vi, en) = match *code {
                    "method_not_allowed" => (
                        "Phương thức không được hỗ trợ cho đường dẫn này",
                        "Method not allowed on this path",
                    ),
                    "request_timeout" => (
                        "Yêu cầu gửi đến quá chậm, kết nối đã được đóng",
                        "The request arrived too slowly; the connection was closed",
                    ),
                    "uri_too_long" => ("Đường dẫn quá dài", "The URI is too long"),
                    "headers_too_large" => (
                        "Phần đầu (header) của yêu cầu quá lớn",
                        "The request's headers are too large",
                    ),
                    _ => (
                        "Yêu cầu HTTP không đúng định dạng",
                        "Malformed HTTP request",
                    ),
                };
                (*status, code, vi, en)
            }
        }
    }

    /// The problem document for this error in the current request's language.
    pub fn to_problem(&self) -> Problem {
        let lang = current_lang();
        let (status, code, vi, en) = self.describe();
        let title = lang.pick(vi, en).to_string();
        let detail = match self {
            Error::BadRequest(reason) => reason.clone(),
            Error::Unreadable { field, reason } => {
                // The spec's limit, as the validator names it (`maxLength(4000)`), if that was it.
                let limit = reason
                    .split_once("verification failed.")
                    .map(|(_, l)| l.trim().to_string());
                match (lang, limit) {
                    (Lang::Vi, Some(l)) => {
                        format!("“{field}” vượt giới hạn cho phép ({l})")
                    }
                    (Lang::Vi, None) => {
                        format!("Không đọc được “{field}”: kiểm tra kiểu và định dạng của nó")
                    }
                    (Lang::En, Some(l)) => format!("`{field}` is outside its limits ({l})"),
                    (Lang::En, None) => format!("Could not read `{field}`: {reason}"),
                }
            }
            _ => detail_for(code, lang).unwrap_or(&title).to_string(),
        };
        Problem {
            type_: format!("urn:wardline:problem:{code}"),
            title,
            status,
            detail,
            code: code.to_string(),
            errors: match self {
                Error::Validation(errors) => errors.clone(),
                Error::Unreadable { field, .. } => vec![FieldError::new(
                    field,
                    "unreadable",
                    "Không đọc được giá trị này",
                    "This value could not be read",
                )],
                _ => Vec::new(),
            },
            request_id: REQUEST_ID.try_with(|id| id.clone()).ok(),
            current_status: match self {
                Error::IllegalTransition { current, .. } => Some(current.to_string()),
                _ => None,
            },
            allowed_actions: match self {
                Error::IllegalTransition { allowed, .. } => {
                    Some(allowed.iter().map(|a| a.to_string()).collect())
                }
                _ => None,
            },
        }
    }
}

/// Specific human details for the stable codes that have one.
fn detail_for(code: &str, lang: Lang) -> Option<&'static str> {
    let (vi, en) = match code {
        "missing_token" => (
            "Thiếu mã truy cập (Authorization: Bearer …)",
            "Missing access token (Authorization: Bearer …)",
        ),
        "invalid_token" => (
            "Mã truy cập không hợp lệ hoặc đã hết hạn",
            "Access token invalid or expired",
        ),
        "account_disabled" => ("Tài khoản đã bị khoá", "This account is disabled"),
        "invalid_credentials" => (
            "Số điện thoại hoặc mật khẩu không đúng",
            "Wrong phone number or password",
        ),
        "invalid_otp" => (
            "Mã xác thực không đúng hoặc đã hết hạn",
            "The code is wrong or has expired",
        ),
        "invalid_refresh_token" => (
            "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại",
            "Session expired, please sign in again",
        ),
        "refresh_token_reused" => (
            "Phiên đăng nhập đã bị thu hồi vì mã làm mới bị dùng lại",
            "Session revoked: a refresh token was used twice",
        ),
        "otp_rate_limited" => (
            "Bạn đã yêu cầu mã quá nhiều lần, vui lòng thử lại sau",
            "Too many code requests, try again later",
        ),
        "otp_attempts_exceeded" => (
            "Nhập sai quá nhiều lần, vui lòng yêu cầu mã mới",
            "Too many wrong codes, request a new one",
        ),
        "report_rate_limited" => (
            "Bạn đã gửi quá nhiều phản ánh trong một giờ, vui lòng thử lại sau",
            "Too many reports in an hour, try again later",
        ),
        "upload_rate_limited" => (
            "Bạn đã tải lên quá nhiều ảnh trong một giờ, vui lòng thử lại sau",
            "Too many photos uploaded in an hour, try again later",
        ),
        "login_rate_limited" => (
            "Đăng nhập sai quá nhiều lần, vui lòng thử lại sau",
            "Too many failed sign-ins, try again later",
        ),
        "phone_taken" => (
            "Số điện thoại đã có tài khoản",
            "An account with this phone number exists",
        ),
        "account_not_found" => ("Không tìm thấy tài khoản", "Account not found"),
        "password_change_required" => (
            "Bạn cần đổi mật khẩu dùng một lần trước khi tiếp tục (POST /v1/me/password)",
            "Change your one-time password first (POST /v1/me/password)",
        ),
        "unit_not_found" => ("Không tìm thấy đơn vị", "Ward unit not found"),
        "station_not_found" => ("Không tìm thấy trạm y tế", "Health station not found"),
        "route_not_found" => ("Đường dẫn không tồn tại", "No such endpoint"),
        "method_not_allowed" => ("Phương thức không được hỗ trợ", "Method not allowed"),
        "wrong_role" => (
            "Tài khoản không có vai trò phù hợp",
            "The account does not have the right role",
        ),
        "object_not_found" => ("Không tìm thấy tệp", "File not found"),
        "database_unavailable" => (
            "Cơ sở dữ liệu tạm thời không truy cập được",
            "The database is temporarily unreachable",
        ),
        "storage_unavailable" => (
            "Kho lưu trữ ảnh tạm thời không truy cập được",
            "Photo storage is temporarily unreachable",
        ),
        "echo_session_live" => (
            "Bạn đang có một cuộc gọi thử đang chạy; hãy kết thúc nó trước",
            "You already have a pre-call test running; end it first",
        ),
        "echo_busy" => (
            "Máy chủ đang bận với các cuộc gọi thử khác, vui lòng thử lại sau",
            "The server is busy with other pre-call tests, try again shortly",
        ),
        "echo_session_not_found" => ("Không tìm thấy cuộc gọi thử", "Pre-call test not found"),
        "tus_version_unsupported" => (
            "Máy chủ chỉ nhận tải lên tiếp nối theo tus 1.0.0 (Tus-Resumable: 1.0.0)",
            "This server speaks tus 1.0.0 only (Tus-Resumable: 1.0.0)",
        ),
        "upload_not_found" => (
            "Không tìm thấy lượt tải ảnh (đã xong quá lâu, hết hạn hoặc đã huỷ)",
            "Upload not found (expired, cancelled or finished long ago)",
        ),
        "upload_offset_mismatch" => (
            "Vị trí tiếp nối không khớp với số byte máy chủ đã nhận; hỏi lại bằng HEAD",
            "Upload-Offset does not match the bytes the server has; ask again with HEAD",
        ),
        "too_many_open_uploads" => (
            "Bạn có quá nhiều lượt tải ảnh chưa xong; hoàn tất hoặc huỷ bớt",
            "Too many unfinished uploads; finish or cancel some first",
        ),
        "too_many_upload_parts" => (
            "Lượt tải bị ngắt quá nhiều lần; hãy tải lại ảnh từ đầu",
            "This upload was interrupted too many times; start it again",
        ),

        _ => return None,
    };
    Some(lang.pick(vi, en))
}
