// The BLAS/LAPACK entry points pygraph's kernels call (scipy-openblas32's names), as plain loops: artifacts
// built with <NAME>_BLAS=builtin need no OpenBLAS (targets without it, cross builds). Slower than OpenBLAS on
// large products, exact LAPACK semantics (row-major BLAS calls, column-major LU with partial pivoting).
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

enum { kRowMajor = 101, kNoTrans = 111 };

// c (m x n, row-major, ldc) = alpha * op(a) . op(b) + beta * c
template <class T>
void gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c,
          int ldc) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[int64_t(i) * ldc + j] = beta == T(0) ? T(0) : beta * c[int64_t(i) * ldc + j];
  if (!ta && !tb) {  // rows of c accumulate rows of b
    for (int i = 0; i < m; ++i) {
      T* __restrict ci = c + int64_t(i) * ldc;
      for (int p = 0; p < k; ++p) {
        const T s = alpha * a[int64_t(i) * lda + p];
        const T* __restrict bp = b + int64_t(p) * ldb;
        for (int j = 0; j < n; ++j) ci[j] += s * bp[j];
      }
    }
  } else if (!ta && tb) {  // dot products of contiguous rows
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        const T* __restrict ai = a + int64_t(i) * lda;
        const T* __restrict bj = b + int64_t(j) * ldb;
        T s = T(0);
        for (int p = 0; p < k; ++p) s += ai[p] * bj[p];
        c[int64_t(i) * ldc + j] += alpha * s;
      }
  } else if (ta && !tb) {  // outer products of row p of a and b
    for (int p = 0; p < k; ++p)
      for (int i = 0; i < m; ++i) {
        const T s = alpha * a[int64_t(p) * lda + i];
        const T* __restrict bp = b + int64_t(p) * ldb;
        T* __restrict ci = c + int64_t(i) * ldc;
        for (int j = 0; j < n; ++j) ci[j] += s * bp[j];
      }
  } else {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        T s = T(0);
        for (int p = 0; p < k; ++p) s += a[int64_t(p) * lda + i] * b[int64_t(j) * ldb + p];
        c[int64_t(i) * ldc + j] += alpha * s;
      }
  }
}

// y = alpha * op(a) . x + beta * y; a is m x n row-major
template <class T>
void gemv(bool trans, int m, int n, T alpha, const T* a, int lda, const T* x, int incx, T beta, T* y, int incy) {
  const int rows = trans ? n : m, cols = trans ? m : n;
  for (int r = 0; r < rows; ++r) {
    T s = T(0);
    for (int q = 0; q < cols; ++q)
      s += (trans ? a[int64_t(q) * lda + r] : a[int64_t(r) * lda + q]) * x[int64_t(q) * incx];
    T& out = y[int64_t(r) * incy];
    out = alpha * s + (beta == T(0) ? T(0) : beta * out);
  }
}

// upper triangle of c (n x n) = alpha * a.a^T (trans: a^T.a) + beta * c
template <class T>
void syrk(bool trans, int n, int k, T alpha, const T* a, int lda, T beta, T* c, int ldc) {
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) {
      T s = T(0);
      for (int p = 0; p < k; ++p)
        s += trans ? a[int64_t(p) * lda + i] * a[int64_t(p) * lda + j] : a[int64_t(i) * lda + p] * a[int64_t(j) * lda + p];
      T& out = c[int64_t(i) * ldc + j];
      out = alpha * s + (beta == T(0) ? T(0) : beta * out);
    }
}

// LU with partial pivoting of a column-major m x n matrix (LAPACK getrf): ipiv is 1-based; returns info.
template <class T>
int getrf(int m, int n, T* a, int lda, int* ipiv) {
  auto at = [&](int r, int c) -> T& { return a[r + int64_t(c) * lda]; };
  int info = 0;
  const int steps = m < n ? m : n;
  for (int j = 0; j < steps; ++j) {
    int p = j;
    for (int r = j + 1; r < m; ++r)
      if (std::fabs(at(r, j)) > std::fabs(at(p, j))) p = r;
    ipiv[j] = p + 1;
    if (at(p, j) == T(0)) {
      if (!info) info = j + 1;
      continue;
    }
    if (p != j)
      for (int c = 0; c < n; ++c) {
        T t = at(j, c);
        at(j, c) = at(p, c);
        at(p, c) = t;
      }
    for (int r = j + 1; r < m; ++r) at(r, j) /= at(j, j);
    for (int c = j + 1; c < n; ++c)
      for (int r = j + 1; r < m; ++r) at(r, c) -= at(r, j) * at(j, c);
  }
  return info;
}

// Solves A X = B ('N') or A^T X = B ('T') from getrf's factors; column-major.
template <class T>
int getrs(char trans, int n, int nrhs, const T* lu, int lda, const int* ipiv, T* b, int ldb) {
  auto L = [&](int r, int c) { return lu[r + int64_t(c) * lda]; };
  for (int k = 0; k < nrhs; ++k) {
    T* x = b + int64_t(k) * ldb;
    if (trans == 'N' || trans == 'n') {
      for (int i = 0; i < n; ++i) {  // P
        T t = x[i];
        x[i] = x[ipiv[i] - 1];
        x[ipiv[i] - 1] = t;
      }
      for (int i = 0; i < n; ++i)  // L, unit diagonal
        for (int j = 0; j < i; ++j) x[i] -= L(i, j) * x[j];
      for (int i = n - 1; i >= 0; --i) {  // U
        for (int j = i + 1; j < n; ++j) x[i] -= L(i, j) * x[j];
        x[i] /= L(i, i);
      }
    } else {
      for (int i = 0; i < n; ++i) {  // U^T
        for (int j = 0; j < i; ++j) x[i] -= L(j, i) * x[j];
        x[i] /= L(i, i);
      }
      for (int i = n - 1; i >= 0; --i)  // L^T, unit diagonal
        for (int j = i + 1; j < n; ++j) x[i] -= L(j, i) * x[j];
      for (int i = n - 1; i >= 0; --i) {  // P^T
        T t = x[i];
        x[i] = x[ipiv[i] - 1];
        x[ipiv[i] - 1] = t;
      }
    }
  }
  return 0;
}

}  // namespace

extern "C" {
void scipy_cblas_sgemm(int, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                       const float* b, int ldb, float beta, float* c, int ldc) {
  gemm(ta != kNoTrans, tb != kNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void scipy_cblas_dgemm(int, int ta, int tb, int m, int n, int k, double alpha, const double* a, int lda,
                       const double* b, int ldb, double beta, double* c, int ldc) {
  gemm(ta != kNoTrans, tb != kNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void scipy_cblas_sgemv(int, int trans, int m, int n, float alpha, const float* a, int lda, const float* x, int incx,
                       float beta, float* y, int incy) {
  gemv(trans != kNoTrans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
void scipy_cblas_dgemv(int, int trans, int m, int n, double alpha, const double* a, int lda, const double* x,
                       int incx, double beta, double* y, int incy) {
  gemv(trans != kNoTrans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
void scipy_cblas_ssyrk(int, int, int trans, int n, int k, float alpha, const float* a, int lda, float beta, float* c,
                       int ldc) {
  syrk(trans != kNoTrans, n, k, alpha, a, lda, beta, c, ldc);
}
void scipy_cblas_dsyrk(int, int, int trans, int n, int k, double alpha, const double* a, int lda, double beta,
                       double* c, int ldc) {
  syrk(trans != kNoTrans, n, k, alpha, a, lda, beta, c, ldc);
}
void scipy_openblas_set_num_threads(int) {}
int scipy_openblas_get_num_threads(void) { return 1; }
int scipy_LAPACKE_sgetrf(int, int m, int n, float* a, int lda, int* ipiv) { return getrf(m, n, a, lda, ipiv); }
int scipy_LAPACKE_dgetrf(int, int m, int n, double* a, int lda, int* ipiv) { return getrf(m, n, a, lda, ipiv); }
int scipy_LAPACKE_sgetrs(int, char trans, int n, int nrhs, const float* a, int lda, const int* ipiv, float* b,
                         int ldb) {
  return getrs(trans, n, nrhs, a, lda, ipiv, b, ldb);
}
int scipy_LAPACKE_dgetrs(int, char trans, int n, int nrhs, const double* a, int lda, const int* ipiv, double* b,
                         int ldb) {
  return getrs(trans, n, nrhs, a, lda, ipiv, b, ldb);
}
}
